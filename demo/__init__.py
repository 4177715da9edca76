"""The clerk-auth demo: Clerk's cross-origin guide, end to end on loopback.

The seed is Clerk's "Cross-Origin Requests" page: a front end on one origin calls an
API on another with ``fetch(url, { headers: { Authorization: `Bearer ${await
getToken()}` } })``. Here every party runs on 127.0.0.1, with no Clerk account:

- :mod:`demo.stack`: a mock Clerk instance, the front end, and the same API served by
  the Flask adapter and by the Starlette adapter, each on its own port (origin);
- :mod:`demo.cases`: what the front end sends (a valid token, an expired one, one
  minted for another origin, a forged one, none, a CORS preflight) and what must come
  back;
- :mod:`demo.main`: ``python -m demo`` prints the table and exits 0 only when every
  answer is the expected one; ``--serve`` keeps it all running for a browser
  (``static/index.html`` runs the guide's fetch code).

It needs ``clerk-auth[flask,starlette]`` and uvicorn; the library itself does not
depend on it. Run it from the repository root.
"""
