"""remote_jobs: run Bakta, MFannot/RNAweasel and codon optimisation on their web services."""

__version__ = "0.3.0"
