"""A PyTorch Lightning training template: LightningCLI, run directories, MLflow and TensorBoard."""
