"""Training the networks stylegram ships: photo sets, the feed-forward style networks."""
