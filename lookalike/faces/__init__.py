"""Faces with dlib: finding and aligning them (the "faces" preprocessing stage) and dlib's pretrained face encoder
(the "dlib-face" backbone). dlib and its model files are the optional extra ``lookalike[faces]``; everything here
registers without them and says how to install them when first used."""
