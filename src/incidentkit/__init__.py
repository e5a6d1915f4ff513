"""incidentkit."""
