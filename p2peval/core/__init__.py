"""The base every stage uses: errors, registries, progress, process pools, image I/O, atomic writes,
device and process-group handling."""
