"""Developer tools of the local stack: the notice sink and the demo traffic generator."""
