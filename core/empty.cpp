// Anchors a static library that may have no other sources while a layer is being grown.
