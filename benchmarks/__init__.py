"""clerk-auth's benchmarks: ``python -m benchmarks`` (``--quick`` for CI).

Every figure is a ratio to one raw RSA-2048 PKCS#1 v1.5 SHA-256 verify through
``cryptography`` with the key object preloaded, measured in the same run, interleaved
with the candidates (rounds alternate the order), median of many rounds. Every
candidate is checked before it is timed: it must accept the valid token with the right
``sub`` and refuse each garbage value with the expected error. See docs/performance.md.

This package installs nothing: peers that cannot be imported are skipped with a note.
"""
