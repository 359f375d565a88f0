"""Stage 2, scoring results folders: named protocols, batched inference, the streaming evaluators
(fcn-score, label-score, segment) and the Lab colour-histogram score."""
