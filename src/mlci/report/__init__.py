"""Reports: results documents to Markdown comments, job summaries and HTML pages."""
