"""The suites' shared root.

pytest puts the folder of a root-level conftest on ``sys.path``, so every suite can
import the shared helpers by name (``from conformance.drivers import …``): the
adapter drivers and their servers (uvicorn, werkzeug) live once, in
``tests/conformance/drivers``.
"""
