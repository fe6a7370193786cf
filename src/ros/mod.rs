//! r2r node layer (owner: ROS helper).
