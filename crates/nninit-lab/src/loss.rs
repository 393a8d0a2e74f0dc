//! The training objectives, shared by training and the probe.

#[cfg(feature = "burn")]
use burn::tensor::activation::log_softmax;
#[cfg(feature = "burn")]
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// The training objective.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Softmax cross-entropy on the class labels.
    #[default]
    CrossEntropy,
    /// Half the squared error to the one-hot labels, summed over outputs and averaged over the
    /// batch: least-squares regression, the deep-linear-network setting of Saxe et al. 2013.
    Mse,
}

/// The loss of a batch: `logits` `[batch, classes]` against labels `y`.
#[cfg(feature = "burn")]
pub fn batch_loss(loss: LossKind, logits: Tensor<2>, y: &[u8], classes: usize, device: &Device) -> Tensor<1> {
    let batch = y.len();
    let mut onehot = vec![0f32; batch * classes];
    for (i, &label) in y.iter().enumerate() {
        onehot[i * classes + usize::from(label).min(classes - 1)] = 1.0;
    }
    let target = Tensor::<2>::from_data(TensorData::new(onehot, [batch, classes]), device);
    match loss {
        LossKind::CrossEntropy => (log_softmax(logits, 1) * target).sum().neg().div_scalar(batch as f64),
        LossKind::Mse => (logits - target).powi_scalar(2).sum().div_scalar(2.0 * batch as f64),
    }
}

#[cfg(all(test, feature = "burn"))]
mod tests {
    use super::*;

    #[test]
    fn losses_match_their_formulas() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0, 2.0, 0.0], [2, 2]), &device);
        let ce =
            f64::from(batch_loss(LossKind::CrossEntropy, logits.clone(), &[0, 0], 2, &device).into_scalar::<f32>());
        let expected = (2f64.ln() + (1.0 + (-2f64).exp()).ln()) / 2.0;
        assert!((ce - expected).abs() < 1e-6, "{ce} vs {expected}");
        let mse = f64::from(batch_loss(LossKind::Mse, logits, &[0, 0], 2, &device).into_scalar::<f32>());
        // Row 1: (0-1)² + 0 = 1; row 2: (2-1)² + 0 = 1; half their mean: 0.5.
        assert!((mse - 0.5).abs() < 1e-6, "{mse}");
    }
}
