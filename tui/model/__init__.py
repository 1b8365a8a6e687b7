"""Pure data: pipeline declarations, their validation, AWS errors, and (later) the view model."""
