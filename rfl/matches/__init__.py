"""The match workflow: proposals from the matcher, officers' review, confirmation and rejection."""
