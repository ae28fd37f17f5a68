"""Safe schema evolution: plan and apply what a changed YAML asks of a database holding data
(``portal migrate``), and the check at start-up that the database is not behind."""
