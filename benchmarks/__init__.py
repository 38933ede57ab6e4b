"""promote-gate's benchmark suite: real DVC repositories, each command beside its peer."""
