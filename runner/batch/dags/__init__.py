"""The Apache Airflow DAG files shipped with the bus (point Airflow's ``dags_folder`` here, or
copy ``ebus_batch.py`` into it)."""
