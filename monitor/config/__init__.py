"""The monitor's config: the model (``model``), what a schema cannot check and where a
problem is (``checks``), loading YAML (``load``) and hot reload (``reload``)."""
