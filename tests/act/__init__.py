"""The act harness: run workflows on this host with stand-in actions (shared with e2e tests)."""
