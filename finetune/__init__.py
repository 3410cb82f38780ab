"""Full fine-tuning of XLM-R-family encoders: ``python -m finetune.text_classification`` and
``python -m finetune.token_classification`` (see README.md in this folder)."""
