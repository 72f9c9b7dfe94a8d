"""Data: the corpus (the embedded Time Machine or a user's file), the vocabulary, and the
book's two ways of cutting a token stream into minibatches."""
