"""The core: hook specs, plugin manager and registry, events, domain, storage."""
