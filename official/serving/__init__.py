"""Models out of training and into use: the SavedModel export base and its image and video
exports (TF Serving), LiteRT files, `.keras` files with their preprocessing, and prediction."""
