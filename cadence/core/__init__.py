"""The bottom layer: configuration, errors, secret scrubbing, time helpers and cost-allocation
rules. Imports nothing of Cadence outside ``cadence.core``; every other package may import it."""
