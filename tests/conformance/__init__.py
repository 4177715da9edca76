"""One table of scenarios, run against every adapter through a driver."""
