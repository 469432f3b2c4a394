"""Lightning callbacks and plugins of depix."""
