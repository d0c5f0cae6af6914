"""treadguard: how we talk to hardware. One interface per kind of device, real drivers, and fakes."""
