"""The recording script is run by hand in a scratch environment, never by pytest."""

collect_ignore = ["record_references.py", "record_model_evaluation.py"]
