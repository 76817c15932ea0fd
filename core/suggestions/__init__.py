"""Field suggestions: what enrichment proposes for a contact's or an account's fields, shown for acceptance."""
