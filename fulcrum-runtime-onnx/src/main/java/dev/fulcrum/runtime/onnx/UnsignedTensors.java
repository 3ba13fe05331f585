package dev.fulcrum.runtime.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.TensorInfo.OnnxTensorType;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * Creates UINT16, UINT32 and UINT64 input tensors, which ONNX Runtime's Java API (1.23) cannot
 * create publicly: its {@link OnnxJavaType} has no unsigned 16/32/64-bit member, so every public
 * {@code createTensor} yields a signed tensor that ORT rejects for an unsigned input.
 *
 * <p>This reaches ORT's own package-private building blocks by reflection: the native {@code
 * OnnxTensor.createTensorFromBuffer}, which takes any ONNX element type, and the {@code OnnxTensor}
 * constructor that keeps the direct buffer reachable for the tensor's life. The ORT jar sits in an
 * unnamed (or automatic) module, so no {@code --add-opens} is needed. If a later ORT changes these
 * internals, {@link #available()} is false and such inputs fail with a clear message instead.
 *
 * <p>Thread-safe: the reflective handles are resolved once and are immutable.
 */
final class UnsignedTensors {
  private static final Handles HANDLES = Handles.resolve();

  private UnsignedTensors() {}

  /** Whether unsigned tensors can be created with this ORT version. */
  static boolean available() {
    return HANDLES.error == null;
  }

  /** Why unsigned tensors cannot be created, when {@link #available()} is false. */
  static String unavailableReason() {
    return HANDLES.error == null ? "" : HANDLES.error.toString();
  }

  /**
   * Wraps a direct, native-order buffer (from its position to its limit) as a tensor of an unsigned
   * type without copying it.
   */
  static OnnxTensor create(
      OrtEnvironment env, ByteBuffer direct, long[] shape, OnnxTensorType onnxType)
      throws ReflectiveOperationException {
    if (HANDLES.error != null) {
      throw new ReflectiveOperationException(
          "ONNX Runtime's Java API cannot create " + onnxType + " tensors", HANDLES.error);
    }
    if (!direct.isDirect()) {
      throw new IllegalArgumentException("buffer must be direct");
    }
    OnnxJavaType carrier = OnnxJavaType.mapFromOnnxTensorType(onnxType);
    long apiHandle = HANDLES.apiHandle.getLong(null);
    Object allocator = HANDLES.defaultAllocator.get(env);
    long allocatorHandle = HANDLES.allocatorHandle.getLong(allocator);
    TensorInfo info = HANDLES.tensorInfo.newInstance(shape.clone(), carrier, onnxType);
    // An InvocationTargetException carries ORT's OrtException as its cause.
    long handle =
        (long)
            HANDLES.createFromBuffer.invoke(
                null,
                apiHandle,
                allocatorHandle,
                direct,
                direct.position(),
                (long) direct.remaining(),
                shape.clone(),
                onnxType.value);
    return HANDLES.tensor.newInstance(handle, allocatorHandle, info, direct, false);
  }

  private record Handles(
      Field apiHandle,
      Field defaultAllocator,
      Field allocatorHandle,
      Method createFromBuffer,
      Constructor<TensorInfo> tensorInfo,
      Constructor<OnnxTensor> tensor,
      Throwable error) {

    // A failed resolve leaves the handles null and sets error: every use checks error first.
    @SuppressWarnings("NullAway")
    static Handles resolve() {
      try {
        Class<?> runtime = Class.forName("ai.onnxruntime.OnnxRuntime");
        Field apiHandle = runtime.getDeclaredField("ortApiHandle");
        Field defaultAllocator = OrtEnvironment.class.getDeclaredField("defaultAllocator");
        Class<?> allocatorClass = Class.forName("ai.onnxruntime.OrtAllocator");
        Field allocatorHandle = allocatorClass.getDeclaredField("handle");
        Method createFromBuffer =
            OnnxTensor.class.getDeclaredMethod(
                "createTensorFromBuffer",
                long.class,
                long.class,
                Buffer.class,
                int.class,
                long.class,
                long[].class,
                int.class);
        Constructor<TensorInfo> tensorInfo =
            TensorInfo.class.getDeclaredConstructor(
                long[].class, OnnxJavaType.class, OnnxTensorType.class);
        Constructor<OnnxTensor> tensor =
            OnnxTensor.class.getDeclaredConstructor(
                long.class, long.class, TensorInfo.class, Buffer.class, boolean.class);
        apiHandle.setAccessible(true);
        defaultAllocator.setAccessible(true);
        allocatorHandle.setAccessible(true);
        createFromBuffer.setAccessible(true);
        tensorInfo.setAccessible(true);
        tensor.setAccessible(true);
        return new Handles(
            apiHandle,
            defaultAllocator,
            allocatorHandle,
            createFromBuffer,
            tensorInfo,
            tensor,
            null);
      } catch (ReflectiveOperationException | RuntimeException e) {
        return new Handles(null, null, null, null, null, null, e);
      }
    }
  }
}
