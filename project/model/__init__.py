"""The LightningModule and the options it applies to its net."""
