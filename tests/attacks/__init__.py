"""The adversarial corpus: hostile tokens from RFC 8725 and public JWT attack tooling,
run through the core and every adapter, each with its exact reason (see ``corpus.py``)."""
