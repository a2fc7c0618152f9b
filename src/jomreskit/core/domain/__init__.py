"""The booking portal's data: models and the services that change them (and fire events)."""
