"""`python -m remote_jobs`: how the Galaxy wrappers run the runner shipped beside them."""

from .cli import main

main()
