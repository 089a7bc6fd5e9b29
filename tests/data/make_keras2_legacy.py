"""Writes keras2_legacy.h5: a Keras 2 (tf_keras 2.21) model in the legacy HDF5 format.

Run once with `pip install tf-keras` (not a test dependency: it pulls the full tensorflow wheel).
"""
import os
os.environ['TF_USE_LEGACY_KERAS'] = '1'
import tf_keras as k, tensorflow as tf
tf.random.set_seed(0)
m = k.Sequential([k.layers.InputLayer((16, 16, 3)), k.layers.Rescaling(1/127.5, offset=-1),
                  k.layers.Conv2D(4, 3, activation='relu'), k.layers.GlobalAveragePooling2D(), k.layers.Dense(3, activation='softmax')], name="keras2_legacy")
m.save('keras2_legacy.h5', save_format='h5')
