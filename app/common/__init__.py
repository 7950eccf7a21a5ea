"""Code shared by the bundled app services: settings, logging, database, cache, security and HTTP plumbing."""
