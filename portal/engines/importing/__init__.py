"""Importing CSV and XLSX files into any entity: read, map, convert, check, then write all
rows in one transaction or none (a dry run only reports)."""
