"""A FastAPI app that sends its welcome emails and builds its reports through DBJobQ."""
