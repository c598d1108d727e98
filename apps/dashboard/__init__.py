"""The web dashboard shell: login, navigation, the section pages, and the workspace in context."""
