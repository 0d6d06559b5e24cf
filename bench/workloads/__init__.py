"""One workload script per system; each is run in a subprocess with that system's interpreter and
prints one JSON object on its last stdout line."""
