"""Rules of duetime: pure, no I/O."""
