"""The checkout context: what is judged, against what, under whose policy, with which
evidence store — decided once, before any evidence is collected.

- ``policy.py``: which DVC project a command works on and the policy it is under (light:
  the hooks' quick paths import it).
- ``bases.py``: what a commit or a push is judged against and whose policy applies (the
  hooks; light too).
- ``ci.py``: the same for a CI run, from the CI's own variables, fetching history as needed.
- ``checkout.py``: the frozen :class:`~promote_gate.context.checkout.Checkout` the commands
  build from those decisions and hand to the gate.
"""
