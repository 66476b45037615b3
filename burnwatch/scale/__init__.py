"""Scale-out: the same jobs on a Dask cluster (``dask_jobs``) and season reprocessing (``reprocess``)."""
