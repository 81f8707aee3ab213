//! From a dataset to tensors on the training device: the split, the features standardised with
//! the training windows' statistics, the labels (-1 where none), the index of each split's
//! labelled nodes, and the graph's message-passing tensors.

use tch::{Device, Kind, Tensor};

use crate::config::DeviceChoice;
use crate::dataset::Dataset;
use crate::message::GraphTensors;
use crate::split::{Split, SplitError, split_by_time};
use crate::standardize::Standardizer;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DeviceError {
    #[error("{asked} was asked for, but {found}")]
    Unavailable { asked: String, found: String },
}

/// The device a choice means on this machine.
pub fn device(choice: DeviceChoice) -> Result<Device, DeviceError> {
    match choice {
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda(i) => {
            let count = if tch::Cuda::is_available() {
                tch::Cuda::device_count() as usize
            } else {
                0
            };
            if i < count {
                Ok(Device::Cuda(i))
            } else {
                Err(DeviceError::Unavailable {
                    asked: format!("cuda:{i}"),
                    found: format!("this process sees {count} CUDA device(s)"),
                })
            }
        }
    }
}

/// `cpu` or `cuda:N`, as reported.
pub fn device_name(d: Device) -> String {
    match d {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Cpu => "cpu".into(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

pub struct Prepared {
    pub device: Device,
    pub x: Tensor,
    pub width: i64,
    pub graph: GraphTensors,
    /// Label per node, -1 where there is none.
    pub y: Tensor,
    /// Labelled nodes of each split and their labels.
    pub train: Tensor,
    pub val: Tensor,
    pub test: Tensor,
    pub y_train: Tensor,
    pub y_val: Tensor,
    pub y_test: Tensor,
    pub split: Split,
    pub standardizer: Standardizer,
}

impl Prepared {
    pub fn new(d: &Dataset, device: Device) -> Result<Self, SplitError> {
        let split = split_by_time(&d.window_start, &d.labels, d.label_horizon)?;
        let width = d.width();
        let standardizer = Standardizer::fit(&d.features, width, &split.train_window_nodes);
        let x = Tensor::from_slice(&standardizer.apply(&d.features))
            .view([d.nodes() as i64, width as i64])
            .to_device(device);
        let labels: Vec<i64> = d.labels.iter().map(|l| l.unwrap_or(-1)).collect();
        let y = Tensor::from_slice(&labels).to_device(device);
        let index = |ids: &[i64]| Tensor::from_slice(ids).to_device(device);
        let (train, val, test) = (index(&split.train), index(&split.val), index(&split.test));
        let (y_train, y_val, y_test) = (
            y.index_select(0, &train),
            y.index_select(0, &val),
            y.index_select(0, &test),
        );
        Ok(Prepared {
            device,
            x,
            width: width as i64,
            graph: GraphTensors::new(d.nodes(), &d.src, &d.dst, device),
            y,
            train,
            val,
            test,
            y_train,
            y_val,
            y_test,
            split,
            standardizer,
        })
    }

    /// The labels of `idx` as a float tensor (for BCE).
    pub fn float_labels(y: &Tensor) -> Tensor {
        y.to_kind(Kind::Float)
    }
}
