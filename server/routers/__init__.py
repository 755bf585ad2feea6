"""One router per feature: the JSON API and the HTML pages."""
