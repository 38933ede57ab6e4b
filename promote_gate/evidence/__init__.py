"""Evidence providers: one module per kind of evidence the rules read.

Each provider is a function ``(Scope, BundleFacts) -> frozen facts``; ``collect.py`` asks
them, in one loop, for exactly the evidence the selected rules declare (``Rule.evidence``).
Providers read through the :class:`~promote_gate.evidence.scope.Scope` (the checkout's
views, store and policy, and the run's memo) and never import ``collect``.
"""
