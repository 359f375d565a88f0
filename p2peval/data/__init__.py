"""Stage 1, the inputs: the Cityscapes class table and label decoding, dataset layouts, results-folder
pairing and manifests, and the synthetic toy-city generator."""
