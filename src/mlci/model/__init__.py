"""Model validation: loading, evaluation, gates and blessing, significance, ONNX, budgets."""
