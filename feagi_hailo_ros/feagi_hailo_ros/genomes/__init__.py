"""Example FEAGI genomes shipped with the package."""
