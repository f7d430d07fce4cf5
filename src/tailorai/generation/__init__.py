"""Generation: the router that picks each request's rung of the ladder, the back ends, and
the records of what was generated."""
