"""The thin ROS 2 layer and the plain modules it uses (encoders, decoders, simulated robot).

Must not import: cli
"""
