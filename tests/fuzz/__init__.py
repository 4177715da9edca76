"""Fuzzing the whole request path: Hypothesis properties (core and every adapter, in
process), a coverage-guided atheris target for the token gate and the cookie parser,
and a secrets-hygiene sweep over responses and logs. See docs/fuzzing.md."""
